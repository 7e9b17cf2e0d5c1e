// The screen xterm.js (headless, unicode 11 widths) shows after a byte capture.
// usage: node screen.js COLS ROWS FILE...  -> one JSON object per line on stdout:
// {"file": ..., "lines": [text per row], "cells": [[[fg, bg, width] per cell] per row]}
// Colours as displayed (inverse applied): "fg"/"bg" (the defaults), "pN", "#rrggbb".
"use strict";
const fs = require("fs");
const { Terminal } = require("@xterm/headless");
const { Unicode11Addon } = require("@xterm/addon-unicode11");

function colour(mode, value, isDefault, which) {
  if (isDefault) return which;
  if (mode === "rgb") return "#" + value.toString(16).padStart(6, "0");
  return "p" + value;
}

function cellColours(cell) {
  const fg = colour(cell.isFgRGB() ? "rgb" : "p", cell.getFgColor(), cell.isFgDefault(), "fg");
  const bg = colour(cell.isBgRGB() ? "rgb" : "p", cell.getBgColor(), cell.isBgDefault(), "bg");
  return cell.isInverse() ? [bg, fg] : [fg, bg];
}

async function screen(cols, rows, file) {
  const term = new Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = "11";
  const data = fs.readFileSync(file);
  await new Promise((resolve) => term.write(new Uint8Array(data), resolve));
  const buffer = term.buffer.active;
  const lines = [];
  const cells = [];
  const cell = buffer.getNullCell();
  for (let y = 0; y < rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
    const row = [];
    for (let x = 0; line && x < cols; x++) {
      line.getCell(x, cell);
      const [fg, bg] = cellColours(cell);
      row.push([fg, bg, cell.getWidth()]);
    }
    cells.push(row);
  }
  term.dispose();
  return { file, lines, cells };
}

(async () => {
  const [cols, rows, ...files] = process.argv.slice(2);
  for (const file of files) {
    const result = await screen(Number(cols), Number(rows), file);
    process.stdout.write(JSON.stringify(result) + "\n");
  }
})();
