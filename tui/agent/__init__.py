"""The device agent: the device end of IoTDA tunnels, in pure Python (docs/protocol.md §4–5).

    from tui.agent.agent import Agent                   # one device
    from tui.agent.config import AgentConfig, MqttEndpoint, build_config, load_toml
    from tui.agent.fleet import Fleet, FleetDevice      # many simulated devices (pty)
    from tui.agent.runner import run_until_signal       # SIGTERM/SIGINT → clean stop

    fleet = Fleet([FleetDevice("boiler_0001", secret, "Boiler room 1")],
                  MqttEndpoint.parse("mqtt://127.0.0.1:1883"), username="demo", password="demo")
    await fleet.start()                                 # every device goes online
    await fleet.set_online("boiler_0001", False)        # and offline again
    fleet.start_flap("boiler_0001", 10.0)               # toggles every 10 s until stop()
    await fleet.stop()

Imports tui.iotda only (never Textual, platform or app).
"""
