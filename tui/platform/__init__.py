"""tui.platform: the local IoTDA-compatible platform (REST, MQTT gateway, tunnel relay, SQLite).

Public API (imports iotda only, never Textual):
    from tui.platform.config import PlatformConfig, Seed, SeedDevice, load_seed, SeedError
    from tui.platform.server import Platform, Endpoints

    platform = Platform(PlatformConfig(seed=load_seed("seed.toml")))
    endpoints = await platform.start()   # Endpoints(rest, mqtt, ws); ports 0 = free ports
    ...
    await platform.stop()                # WebSockets closed with 1001, state flushed
"""
