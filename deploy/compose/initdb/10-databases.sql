-- Runs once, when the PostgreSQL volume is first initialised: one database per service
-- (each service owns its tables and its own migration history).
CREATE DATABASE registry;
CREATE DATABASE settlement;
