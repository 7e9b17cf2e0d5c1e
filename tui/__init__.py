"""iotunnel: a keyboard-first dashboard for Huawei Cloud IoTDA device tunnels."""

__version__ = "0.1.0"
