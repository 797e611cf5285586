-- The sync follows the API's measured order (check): the stored seek cursor says which field and direction
-- it is a position on, so a resumed window never reads a cursor of one order as the other.
ALTER TABLE "sync_checkpoints" ADD COLUMN "cursor_order" TEXT;

-- What each run measured of the API's clock (API minus ours, ms) and the strategy it read with.
ALTER TABLE "sync_runs" ADD COLUMN "clock_skew_ms" INTEGER;
ALTER TABLE "sync_runs" ADD COLUMN "strategy" TEXT;
