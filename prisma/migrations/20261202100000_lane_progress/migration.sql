-- contacts-sync: the progress of every lane of the window under way, so that a resumed pass re-reads only
-- what was in flight. The seek cursor is one position: with several lanes reading below it, a crash used to
-- re-read whatever the lanes below had committed. Each lane whose pages commit while a lane above it is still
-- reading now records, with each page, how far it got: {"<lane top>": "<lane cursor>"}, positions on
-- cursor_order (ISO instants): the rows between the two were read and committed. The resumed seek jumps over
-- them. Written by the page's own statement (so never ahead of the rows it covers), cleared whenever the
-- cursor is set from outside a page (a window starts or ends).
SET LOCAL lock_timeout = '30s';

ALTER TABLE "sync_checkpoints" ADD COLUMN "lane_progress" JSONB;
