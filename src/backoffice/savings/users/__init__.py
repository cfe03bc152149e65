"""The savings users service: customers (sign up, read, update, delete, log in), own database.

It answers commands over NATS request-reply (`handlers`) and publishes every change as an event
through its outbox; it never imports another savings service.
"""
