-- Sellers withdraw their available money through the members' flow:
-- a withdrawal belongs to a member or to a seller.
ALTER TABLE withdrawals ALTER COLUMN member_id DROP NOT NULL;
ALTER TABLE withdrawals ADD COLUMN seller_id uuid REFERENCES sellers (id);
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_one_holder CHECK ((member_id IS NULL) <> (seller_id IS NULL));
CREATE INDEX withdrawals_seller_idx ON withdrawals (seller_id, id) WHERE seller_id IS NOT NULL;
