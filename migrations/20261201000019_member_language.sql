-- The language a member reads the dashboard and its emails in: English
-- until the member switches (the dashboard's switch stores it).
ALTER TABLE members ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'bn'));
