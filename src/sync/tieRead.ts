// One group of rows read with page numbers to a proven end: the rows sharing one bucket of the order field
// when more of them than a page holds stop a seek (seek.ts's slices), or a createdAt part too narrow to split
// (partition.ts). Over a stable order, one read to an empty page is the group. Where tied rows may come back
// in another order per request, page numbers skip and repeat rows, so the group is read again and again
// until a complete read brings no new id and every row counted in it has been seen.
import { ContractError } from "../errors.js";
import type { RawContact } from "../api/response.js";

/** Complete reads of one group before the sync gives up proving it complete. */
export const MAX_SLICE_READS = 16;

export class TieRead {
  /** The page number to request next. */
  page = 1;
  private counted = 0;
  private readonly seen = new Set<string>();
  private newInRead = false;
  private reads = 0;

  /** `what` names the group in the error; `first`: the group's page 1, already read. */
  constructor(private readonly unstable: boolean, private readonly what: (counted: number) => string, first?: RawContact[]) {
    if (first) this.add(first);
  }

  /** A page of the group that was not empty: counted; the next request is the next page. */
  add(rows: RawContact[]): void {
    this.counted += rows.length;
    for (const row of rows) {
      if (!this.seen.has(row._id)) {
        this.seen.add(row._id);
        this.newInRead = true;
      }
    }
    this.page += 1;
  }

  /** An empty page ended one complete read: true once the group is proven complete, false to read it again. */
  endOfRead(): boolean {
    this.reads += 1;
    if (!this.unstable || (!this.newInRead && this.seen.size >= this.counted && this.reads >= 2)) return true;
    if (this.reads >= MAX_SLICE_READS) {
      throw new ContractError(
        `${this.reads} complete reads of ${this.what(this.counted)} still brought new ones: the API's order among them changes ` +
          "with every request, so the sync cannot prove it has them all. Nothing of this page was written; the checkpoint is " +
          "unchanged. Run `contacts-sync check` and report what it shows.",
      );
    }
    this.page = 1;
    this.counted = 0;
    this.newInRead = false;
    return false;
  }
}
