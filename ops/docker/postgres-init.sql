-- Run once by the postgres image on an empty data directory (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d). POSTGRES_DB creates the main database, `backoffice`; each savings
-- service gets a database of its own on the same server (backoffice.services.DATABASES), which
-- its Alembic history (`backoffice db upgrade SERVICE`) then fills.
CREATE DATABASE savings_users;
CREATE DATABASE savings_accounting;
