"""AMI: panoramisk's protocol behind a checked client (login, Ping, reconnect, no re-sends)."""

from callcore.ami.client import AmiClient
from callcore.ami.protocol import AmiTimeout, AmiUnavailable
from callcore.ami.registry import RegistrationChange, Registrations

__all__ = ["AmiClient", "AmiTimeout", "AmiUnavailable", "RegistrationChange", "Registrations"]
