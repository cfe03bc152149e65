"""What each savings service may do on NATS: least privilege, enforced by the server.

The gateway may only ask the commands and queries the customer API sends; the users service
answers its own commands and publishes its own events; accounting answers its own commands and
reads the users' events through its one durable consumer. Each receives replies on its own inbox
only (core.natsauth). A new subject a service uses goes here too, or the server refuses it.
"""

from __future__ import annotations

from backoffice.core.natsauth import JS_ACK, JS_API, NatsUser
from backoffice.savings import subjects as s

USERS_COMMANDS = (s.SIGNUP, s.LOGIN, s.GET_USER, s.UPDATE_USER, s.DELETE_USER)
ACCOUNTING_COMMANDS = (
    s.CREATE_PLAN,
    s.LIST_PLANS,
    s.ASSIGN_PLAN,
    s.CREDIT,
    s.BALANCE,
    s.TRANSACTIONS,
    s.PLAN_CUSTOMERS,
    s.WITHDRAW,
    s.TRANSFER,
    s.STATEMENT,
    s.ACCOUNT,
    s.ACCOUNT_TRANSACTIONS,
    s.REVERSE,
)
# What the gateway sends for its API and the console (backoffice.savings.gateway.service),
# and nothing else: the users service's get, update and delete are not among them.
GATEWAY_REQUESTS = (s.SIGNUP, s.LOGIN, *ACCOUNTING_COMMANDS)

# Creating the users' stream, or updating it to the same configuration (Bus.ensure_stream).
_USERS_STREAM = (
    f"{JS_API}.STREAM.CREATE.{s.USERS_STREAM}",
    f"{JS_API}.STREAM.UPDATE.{s.USERS_STREAM}",
)
# Accounting's durable consumer: looked up, created (either form of nats-py's request),
# pulled from, and its messages acked.
_CONSUMER = f"{s.USERS_STREAM}.{s.ACCOUNTING_DURABLE}"
_ACCOUNTING_CONSUMER = (
    f"{JS_API}.CONSUMER.INFO.{_CONSUMER}",
    f"{JS_API}.CONSUMER.CREATE.{_CONSUMER}",
    f"{JS_API}.CONSUMER.CREATE.{_CONSUMER}.>",
    f"{JS_API}.CONSUMER.DURABLE.CREATE.{_CONSUMER}",
    f"{JS_API}.CONSUMER.MSG.NEXT.{_CONSUMER}",
    f"{JS_ACK}.{_CONSUMER}.>",
)

USERS = NatsUser(
    "savings-users",
    publish=(s.USERS_EVENTS, *_USERS_STREAM),  # its events, any kind, and never a command
    subscribe=USERS_COMMANDS,
    answers_requests=True,
)
ACCOUNTING = NatsUser(
    "savings-accounting",
    publish=(*_USERS_STREAM, *_ACCOUNTING_CONSUMER),
    subscribe=ACCOUNTING_COMMANDS,
    answers_requests=True,
)
GATEWAY = NatsUser("savings-gateway", publish=GATEWAY_REQUESTS)

NATS_USERS = (USERS, ACCOUNTING, GATEWAY)
