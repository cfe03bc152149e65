"""The savings gateway: the only API customers call; it talks to the services over NATS."""
