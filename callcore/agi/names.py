"""Names shared between callcore and the Asterisk dialplan in ``asterisk-config/``.

The dialplan and the service must agree on these; ``tests/test_asterisk_config.py`` cross-checks the
``.conf`` files against them and against the ``Settings`` defaults.
"""

from __future__ import annotations

from typing import Final

# Stasis application (Settings.ari_app default) and the first Stasis argument for each kind of entry.
APP_NAME: Final = "callcore"
STASIS_INBOUND: Final = "inbound"
STASIS_AGENT_LOGIN: Final = "agent-login"
STASIS_AMD: Final = "amd"

# Dialplan contexts.
CONTEXT_INBOUND: Final = "inbound"
CONTEXT_AGENTS: Final = "agents"
CONTEXT_DIALER_AMD: Final = "dialer-amd"
CONTEXT_FALLBACK: Final = "callcore-fallback"
CONTEXT_SAFE_HARBOUR: Final = "callcore-safe-harbour"
CONTEXT_VOICEMAIL: Final = "callcore-voicemail"  # queue overflow to voicemail: exten = mailbox
CONTEXT_TRANSFER: Final = "callcore-transfer"  # operator's blind transfer to a number: exten = number
DIALPLAN_CONTEXTS: Final = (CONTEXT_INBOUND, CONTEXT_AGENTS, CONTEXT_DIALER_AMD, CONTEXT_FALLBACK,
                            CONTEXT_SAFE_HARBOUR, CONTEXT_VOICEMAIL, CONTEXT_TRANSFER)

# FastAGI scripts (the path of agi://host:port/<script>).
SCRIPT_ROUTE: Final = "route"
SCRIPT_LOOKUP: Final = "lookup"
SCRIPT_DNC_CHECK: Final = "dnc-check"
SCRIPT_CALLBACK: Final = "callback"
AGI_SCRIPTS: Final = (SCRIPT_ROUTE, SCRIPT_LOOKUP, SCRIPT_DNC_CHECK, SCRIPT_CALLBACK)
AGI_DEFAULT_PORT: Final = 4573

# Channel variables set by the FastAGI scripts.
VAR_QUEUE: Final = "CALLCORE_QUEUE"
VAR_PRIORITY: Final = "CALLCORE_PRIORITY"
VAR_ROUTE_REASON: Final = "CALLCORE_ROUTE_REASON"
VAR_LANGUAGE: Final = "CALLCORE_LANGUAGE"
VAR_CALLER_NAME: Final = "CALLCORE_CALLER_NAME"
VAR_LAST_CALL: Final = "CALLCORE_LAST_CALL"
VAR_CALL_COUNT: Final = "CALLCORE_CALL_COUNT"
VAR_OPEN_TICKETS: Final = "CALLCORE_OPEN_TICKETS"
VAR_VIP: Final = "CALLCORE_VIP"
VAR_LOOKUP_STATUS: Final = "CALLCORE_LOOKUP_STATUS"
VAR_DNC: Final = "CALLCORE_DNC"
VAR_DNC_REASON: Final = "CALLCORE_DNC_REASON"
VAR_CALLBACK: Final = "CALLCORE_CALLBACK"
VAR_CALLBACK_REASON: Final = "CALLCORE_CALLBACK_REASON"

# CALLCORE_ROUTE_REASON values.
REASON_DID: Final = "did"
REASON_DEFAULT: Final = "default"
REASON_VIP: Final = "vip"
REASON_CLOSED: Final = "closed"
REASON_HOLIDAY: Final = "holiday"
REASON_ERROR: Final = "error"

# Queues used when nothing else applies.
DEFAULT_QUEUE: Final = "default"
AFTER_HOURS_QUEUE: Final = "after-hours"

# Asterisk manager user (Settings.ami_user default) and ARI user (Settings.ari_user default).
AMI_USER: Final = "callcore"
ARI_USER: Final = "callcore"
