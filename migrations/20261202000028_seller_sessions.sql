-- Sellers sign in to the dashboard with their seller key: a seller
-- session sees only its own seller's pages.
ALTER TABLE web_sessions ADD COLUMN seller_id uuid REFERENCES sellers (id);
ALTER TABLE web_sessions DROP CONSTRAINT web_sessions_role_check;
ALTER TABLE web_sessions ADD CONSTRAINT web_sessions_role_check CHECK (role IN ('admin', 'member', 'seller'));
ALTER TABLE web_sessions ADD CONSTRAINT web_sessions_seller_role CHECK ((role = 'seller') = (seller_id IS NOT NULL));
