/** One schema step. `version` is the `PRAGMA user_version` the database has once `sql` ran. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
