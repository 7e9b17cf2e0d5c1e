"""The IoTDA contract: models, codecs, signing, MQTT rules and the REST client.

Imports none of the other parts of `tui` (docs/design.md).
"""
