"""The web console: server-rendered pages for every context (see backoffice.console.context)."""
