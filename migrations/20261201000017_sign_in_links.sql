-- One-time sign-in links emailed to members: only the token's SHA-256 is
-- kept; a link lives 15 minutes and opens one session.
CREATE TABLE sign_in_links (
    token_hash text PRIMARY KEY,
    member_id  uuid NOT NULL REFERENCES members (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
