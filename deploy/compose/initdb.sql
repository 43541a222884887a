-- compose.yaml's database: the image makes POSTGRES_USER (app_owner) the
-- owner of POSTGRES_DB; this adds the service's own login role, which the
-- migrations (the "migrate" service) grant row access and nothing else.
-- Local use only: the password is the one compose.yaml gives the app.
CREATE ROLE app LOGIN PASSWORD 'app';
