-- Least privilege on PostgreSQL (run once by the postgres image as its bootstrap superuser,
-- from /docker-entrypoint-initdb.d; or by hand: `psql -f 10-roles.sql` with the four
-- variables in the environment).
--
-- DB_OWNER_ROLE  owns the schema and every table; `flask init-db` (the migrate service)
--                runs as it and then grants the app role what workflow/core/grants.py lists.
-- DB_APP_ROLE    what web, workers and beat connect as: not a superuser, creates nothing,
--                owns no table, so it can neither switch the audit log's triggers off nor
--                UPDATE, DELETE or TRUNCATE the audit log.
\set ON_ERROR_STOP on
\getenv owner_role DB_OWNER_ROLE
\getenv owner_password DB_OWNER_PASSWORD
\getenv app_role DB_APP_ROLE
\getenv app_password DB_APP_PASSWORD
SELECT current_database() AS dbname \gset

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;

ALTER DATABASE :"dbname" OWNER TO :"owner_role";
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO :"app_role";

ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";
