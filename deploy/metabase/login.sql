-- The login Metabase connects with (profile bi of docker-compose.yml): a member of the read-only role that
-- `contacts-sync grant-reader contacts_reader` made, so it can read the mirror's tables and views and
-- nothing else. Run by psql with -v password=... -v schema=... (the mirror's, DATABASE_SCHEMA); safe to run again
-- (the password is set each time).
\set ON_ERROR_STOP on
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'metabase') AS missing \gset
\if :missing
CREATE ROLE metabase LOGIN;
\endif
ALTER ROLE metabase WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
GRANT contacts_reader TO metabase;
-- Native SQL questions name the mirror's tables and views plainly.
ALTER ROLE metabase SET search_path = :"schema";
