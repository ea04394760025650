-- A seller API key, bound to one seller: it reads that seller's balance,
-- lines and statement, and nothing else.
ALTER TABLE api_keys ADD COLUMN seller_id uuid REFERENCES sellers (id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'storefront', 'member', 'seller'));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_seller_role CHECK ((role = 'seller') = (seller_id IS NOT NULL));
