"""The savings scheme: a users service, an event-sourced accounting service and a gateway.

Each service has its own database and talks to the others over NATS only
(`backoffice.savings.subjects` names every subject they share).
"""
