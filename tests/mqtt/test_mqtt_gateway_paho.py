"""The gateway against paho-mqtt devices: credentials, codes, takeover, topics, QoS."""

from __future__ import annotations

import json
from datetime import timedelta

import paho.mqtt.client as paho
import pytest
from mqtt_gateway_support import NOW, SECRETS, LiveGateway, PahoDevice, credentials

from tui.iotda.mqtt import TunnelNotify, events_down_topic, events_up_topic, hour_stamp

DEV1, DEV2 = "prod_dev1", "prod_dev2"
BAD_CLIENT_ID = 133  # paho 2.x reports CONNACK 0x02 as an MQTT 5 reason code
BAD_CREDENTIALS = 134  # 0x04


async def connected(live: LiveGateway, device_id: str = DEV1, **kw: object) -> PahoDevice:
    device = PahoDevice(live.port, credentials(device_id, SECRETS[device_id]), **kw)
    reason = await device.connect()
    assert not reason.is_failure, reason
    await live.recorder.wait_for(lambda: live.gateway.is_online(device_id))
    return device


async def refused(live: LiveGateway, device: PahoDevice) -> int:
    try:
        reason = await device.connect()
        assert reason.is_failure
        return reason.value
    finally:
        device.close()


async def test_good_credentials_go_online_then_offline(live: LiveGateway) -> None:
    device = await connected(live)
    try:
        assert live.recorder.status == [(DEV1, True)]
        assert live.gateway.online_devices() == {DEV1}
        assert live.gateway.status_changed_at(DEV1) == NOW
    finally:
        device.close()
    await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
    assert not live.gateway.is_online(DEV1)
    assert live.recorder.status == [(DEV1, True), (DEV1, False)]


async def test_wrong_password_is_refused_and_leaves_the_live_device_alone(
    live: LiveGateway,
) -> None:
    device = await connected(live)
    try:
        good = credentials(DEV1, SECRETS[DEV1])
        intruder = PahoDevice(live.port, type(good)(good.client_id, DEV1, "0" * 64))
        assert await refused(live, intruder) == BAD_CREDENTIALS
        assert live.recorder.status == [(DEV1, True)]
        assert live.gateway.is_online(DEV1)
        # The live device still gets its downlinks.
        assert await live.gateway.publish(DEV1, events_down_topic(DEV1), b"still here")
        assert (await device.next_message()).payload == b"still here"
    finally:
        device.close()


@pytest.mark.parametrize(
    ("device_id", "secret", "username"),
    [
        ("prod_ghost", "whatever", "prod_ghost"),  # unknown device
        (DEV1, SECRETS[DEV1], DEV2),  # username is not the device id
        (DEV1, SECRETS[DEV2], DEV1),  # another device's secret
    ],
)
async def test_bad_credentials_answer_0x04(
    live: LiveGateway, device_id: str, secret: str, username: str
) -> None:
    creds = credentials(device_id, secret)
    device = PahoDevice(live.port, type(creds)(creds.client_id, username, creds.password))
    assert await refused(live, device) == BAD_CREDENTIALS
    assert live.recorder.status == []


@pytest.mark.parametrize(
    "bad_id",
    [
        "prod_dev1",
        "prod_dev1_0_2_2026112605",
        "prod dev1_0_0_2026112605",
        "x" * 140 + "_0_0_2026112605",
    ],
)
async def test_bad_client_id_answers_0x02(live: LiveGateway, bad_id: str) -> None:
    creds = credentials(DEV1, SECRETS[DEV1])
    device = PahoDevice(live.port, type(creds)(bad_id, DEV1, creds.password))
    assert await refused(live, device) == BAD_CLIENT_ID


@pytest.mark.parametrize("keepalive", [0, 10, 29, 1201])
async def test_keepalive_out_of_range_answers_0x02(live: LiveGateway, keepalive: int) -> None:
    device = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1]), keepalive=keepalive)
    assert await refused(live, device) == BAD_CLIENT_ID


@pytest.mark.parametrize("keepalive", [30, 1200])
async def test_keepalive_bounds_are_accepted(live: LiveGateway, keepalive: int) -> None:
    connected_device = await connected(live, keepalive=keepalive)
    connected_device.close()


async def test_time_checked_client_id_needs_a_current_hour(live: LiveGateway) -> None:
    stale = hour_stamp(NOW - timedelta(hours=3))
    late = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1], stale, check_time=True))
    assert await refused(live, late) == BAD_CREDENTIALS
    # Sign type 0 checks only the password, whatever the hour.
    old_ok = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1], stale))
    try:
        assert not (await old_ok.connect()).is_failure
    finally:
        old_ok.close()
    await live.recorder.wait_for(lambda: not live.gateway.is_online(DEV1))
    near = hour_stamp(NOW + timedelta(hours=1))
    fresh = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1], near, check_time=True))
    try:
        assert not (await fresh.connect()).is_failure
    finally:
        fresh.close()


async def test_mqtt5_client_is_refused(live: LiveGateway) -> None:
    device = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1]), protocol=paho.MQTTv5)
    try:
        # Our 3.1.1 CONNACK 0x01 reaches paho's MQTT 5 parser as a refusal of some kind.
        reason = await device.connect()
        assert reason.is_failure
    except TimeoutError:
        pass  # paho may drop the connection without calling on_connect; refused either way
    finally:
        device.close()
    assert live.recorder.status == []


async def test_takeover_closes_the_old_connection_without_offline(live: LiveGateway) -> None:
    first = await connected(live)
    second = PahoDevice(live.port, credentials(DEV1, SECRETS[DEV1]))
    try:
        assert not (await second.connect()).is_failure
        await first.wait_disconnected()
        await live.recorder.wait_for(lambda: len(live.recorder.status) >= 2)
        assert live.recorder.status == [(DEV1, True), (DEV1, True)]
        assert live.gateway.is_online(DEV1)
        assert await live.gateway.publish(DEV1, events_down_topic(DEV1), b"to the new one")
        assert (await second.next_message()).payload == b"to the new one"
        assert first.messages.empty()
    finally:
        first.close()
        second.close()
    await live.recorder.wait_for(lambda: not live.gateway.is_online(DEV1))
    assert live.recorder.status == [(DEV1, True), (DEV1, True), (DEV1, False)]


async def test_implicit_events_down_without_subscribe(live: LiveGateway) -> None:
    device = await connected(live)
    try:
        notify = TunnelNotify(
            "wss://127.0.0.1/v5/iot/tunnels/t1/device-connect", "tok-" + "a" * 40, 600
        )
        assert await live.gateway.notify_tunnel(DEV1, notify)
        message = await device.next_message()
        assert message.topic == events_down_topic(DEV1)
        assert message.qos == 0
        [found] = TunnelNotify.find_in(message.payload)
        assert found.tunnel_access_token == notify.tunnel_access_token
        assert found.event_time == "20261126T053000Z"
    finally:
        device.close()


async def test_publish_to_an_offline_device_is_false(live: LiveGateway) -> None:
    assert not await live.gateway.publish(DEV1, events_down_topic(DEV1), b"nobody")


async def test_subscribe_only_inside_own_namespace(live: LiveGateway) -> None:
    device = await connected(live)
    try:
        own = f"$oc/devices/{DEV1}/user/commands"
        codes = await device.subscribe(own, qos=1)
        assert [c.value for c in codes] == [1]
        for foreign in (
            f"$oc/devices/{DEV2}/sys/events/down",
            "$oc/devices/+/sys/#",
            "#",
            "other/topic",
        ):
            codes = await device.subscribe(foreign, qos=0)
            assert [c.is_failure for c in codes] == [True], foreign
        assert live.gateway.is_online(DEV1)
        # QoS 1 downlink on the explicit subscription, acknowledged by paho.
        assert await live.gateway.publish(DEV1, own, b"cmd", qos=1)
        message = await device.next_message()
        assert (message.topic, message.payload, message.qos) == (own, b"cmd", 1)
        # The platform cannot publish outside the device's namespace either.
        assert not await live.gateway.publish(DEV1, f"$oc/devices/{DEV2}/sys/events/down", b"x")
        # After UNSUBSCRIBE nothing matches that topic any more.
        await device.unsubscribe(own)
        assert not await live.gateway.publish(DEV1, own, b"late")
        # Unsubscribing the system topics does not stop the implicit delivery.
        await device.unsubscribe(f"$oc/devices/{DEV1}/sys/#")
        assert await live.gateway.publish(DEV1, events_down_topic(DEV1), b"still")
        assert (await device.next_message()).payload == b"still"
    finally:
        device.close()


async def test_uplink_qos0_and_qos1(live: LiveGateway) -> None:
    device = await connected(live)
    try:
        up = events_up_topic(DEV1)
        body = json.dumps({"services": []}).encode()
        await device.publish(up, body, qos=1)  # returns once the PUBACK came
        await device.publish(f"$oc/devices/{DEV1}/sys/properties/report", b"{}", qos=0)
        await live.recorder.wait_for(lambda: len(live.recorder.uplinks) == 2)
        assert live.recorder.uplinks[0] == (DEV1, up, body)
        assert live.recorder.uplinks[1][1].endswith("/sys/properties/report")
    finally:
        device.close()


async def test_publish_outside_namespace_closes_the_connection(live: LiveGateway) -> None:
    device = await connected(live)
    other = await connected(live, DEV2)
    try:
        device.client.publish(events_up_topic(DEV2), b"spoof", qos=0)
        await device.wait_disconnected()
        await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
        assert live.recorder.uplinks == []
        assert live.gateway.online_devices() == {DEV2}
    finally:
        device.close()
        other.close()
