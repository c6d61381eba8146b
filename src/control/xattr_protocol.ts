/*
 * The control ops of the xattr tag commands (list-hidden-xattrs,
 * search-xattrs, read-xattr-totals, read-xattr-index): their arguments
 * and results, part of protocol.ts ControlOps.  u64s travel as decimal
 * strings, xattr names as base64 (they are bytes).
 */

/** (a, b, c) of a .totl. name, decimal u64 strings */
export type TotlNameWire = [string, string, string];

export interface XattrTotalInfo {
  name: TotlNameWire;
  /** i64, decimal */
  total: string;
  /** i64, decimal */
  count: string;
}

/** a position in the .indx. index: major u8, minor and ino decimal u64 strings */
export interface IndxEntryWire {
  major: number;
  minor: string;
  ino: string;
}

export interface XattrOps {
  listHiddenXattrs: { args: { ino: number }; result: { namesB64: string[] } };
  /** inodes at or after nextIno that may have the xattr; complete: none after the last given */
  searchXattrs: { args: { nameB64: string; nextIno: number; limit: number }; result: { inos: number[]; complete: boolean } };
  /** totals after `after` (null: from the first) */
  readXattrTotals: { args: { after: TotlNameWire | null; limit: number }; result: { totals: XattrTotalInfo[] } };
  /** entries from first to last inclusive, each (major, minor, ino) once */
  readXattrIndex: { args: { first: IndxEntryWire; last: IndxEntryWire; limit: number }; result: { entries: IndxEntryWire[] } };
}
