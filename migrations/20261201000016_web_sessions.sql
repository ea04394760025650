-- Dashboard sessions. The browser holds an opaque random id in an
-- HttpOnly cookie; only its SHA-256 is kept here, with the session's role,
-- its member (a member session sees only that member), the CSRF token its
-- forms carry, and its expiry. Signing out ends it.
CREATE TABLE web_sessions (
    token_hash text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('admin', 'member')),
    member_id  uuid REFERENCES members (id),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz,
    CHECK ((role = 'member') = (member_id IS NOT NULL))
);
