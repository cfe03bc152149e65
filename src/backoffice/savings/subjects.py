"""The NATS subjects the savings services share: the only contract between them.

Events go through JetStream (stream `USERS_STREAM`), commands and queries through core NATS
request-reply, each service answering in a queue group named after itself.
"""

from __future__ import annotations

from typing import Final

# Events of the users service (JetStream, delivered at least once; consumers are idempotent).
USERS_STREAM: Final = "SAVINGS_USERS"
# One token after `v1.`: the events, and not the commands below (`savings.users.v1.cmd.*`),
# which a `>` would capture into the stream (and answer with the stream's acks).
USERS_EVENTS: Final = "savings.users.v1.*"
USER_CREATED: Final = "savings.users.v1.created"
USER_UPDATED: Final = "savings.users.v1.updated"
USER_DELETED: Final = "savings.users.v1.deleted"

# Commands and queries of the users service (request-reply).
USERS_QUEUE: Final = "savings-users"
SIGNUP: Final = "savings.users.v1.cmd.signup"
LOGIN: Final = "savings.users.v1.cmd.login"
GET_USER: Final = "savings.users.v1.cmd.get"
UPDATE_USER: Final = "savings.users.v1.cmd.update"
DELETE_USER: Final = "savings.users.v1.cmd.delete"

# Commands and queries of the accounting service (request-reply).
ACCOUNTING_QUEUE: Final = "savings-accounting"
CREATE_PLAN: Final = "savings.accounting.v1.cmd.create_plan"
LIST_PLANS: Final = "savings.accounting.v1.cmd.list_plans"
ASSIGN_PLAN: Final = "savings.accounting.v1.cmd.assign_plan"
CREDIT: Final = "savings.accounting.v1.cmd.credit"
BALANCE: Final = "savings.accounting.v1.cmd.balance"
TRANSACTIONS: Final = "savings.accounting.v1.cmd.transactions"
WITHDRAW: Final = "savings.accounting.v1.cmd.withdraw"
TRANSFER: Final = "savings.accounting.v1.cmd.transfer"
STATEMENT: Final = "savings.accounting.v1.cmd.statement"
# An operator's query: the customers whose account is on a plan (the console's plans page).
PLAN_CUSTOMERS: Final = "savings.accounting.v1.cmd.plan_customers"
# An operator's: an account's balances and status, its entries, and an entry reversed.
ACCOUNT: Final = "savings.accounting.v1.cmd.account"
ACCOUNT_TRANSACTIONS: Final = "savings.accounting.v1.cmd.account_transactions"
REVERSE: Final = "savings.accounting.v1.cmd.reverse"
# Accounting's durable consumer of the users' events: one, shared by every instance of it.
ACCOUNTING_DURABLE: Final = "savings-accounting"
