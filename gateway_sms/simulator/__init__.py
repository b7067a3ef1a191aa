"""The built-in SMSC simulator (embedded default, tests, the simulator web page)."""

from gateway_sms.simulator.records import Faults, MoRecord, SimMessage, SubmittedPart
from gateway_sms.simulator.server import Simulator

__all__ = ["Faults", "MoRecord", "SimMessage", "Simulator", "SubmittedPart"]
