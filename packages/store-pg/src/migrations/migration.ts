/** One step of the schema, applied once, in `version` order, inside the migration transaction. */
export interface Migration {
  /** 1, 2, 3, ...: recorded in `schema_version` once applied. */
  readonly version: number;
  readonly name: string;
  /** Statements run with `search_path` set to the store's schema. */
  readonly sql: string;
}
