"""The platform's MQTT 3.1.1 device gateway (docs/protocol.md §4).

gateway = DeviceGateway(secret_for, on_status, on_uplink, clock=clock)
port = await gateway.start("127.0.0.1", 0, ssl_context=None)
await gateway.publish(device_id, events_down_topic(device_id), payload)  # -> bool
await gateway.stop()
"""

from tui.platform.mqtt.codec import ConnackCode, MalformedPacket
from tui.platform.mqtt.gateway import DeviceGateway

__all__ = ["ConnackCode", "DeviceGateway", "MalformedPacket"]
