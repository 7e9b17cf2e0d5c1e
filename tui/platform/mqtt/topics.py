"""Topic filters and the device namespace rule: a device sees only `$oc/devices/{its id}/…`."""

from __future__ import annotations

from tui.iotda.mqtt import device_topic_prefix


def implicit_filter(device_id: str) -> str:
    """System downlinks a device receives at QoS 0 without SUBSCRIBE (docs/protocol.md §4)."""
    return f"{device_topic_prefix(device_id)}sys/#"


def is_valid_filter(topic_filter: str) -> bool:
    """MQTT 3.1.1 §4.7: `#` only as the whole last level, `+` only as a whole level."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def in_namespace(device_id: str, topic: str) -> bool:
    """True when a topic or filter stays inside the device's own namespace.

    The prefix is matched literally, so `$oc/devices/+/…` or another device's id is refused.
    """
    prefix = device_topic_prefix(device_id)
    return topic.startswith(prefix) and len(topic) > len(prefix)


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a concrete topic name matches a (valid) filter."""
    if topic_filter == topic:
        return True
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
