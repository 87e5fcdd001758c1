import type { AclRule, RetainedRecord, StoredMessage, UserRecord } from '@mqtt-adapt/router';
import { propertiesFromJson } from './properties-json.js';

/** Row shapes as better-sqlite3 returns them, and their records. */
export interface RetainedRow {
  topic_name: string;
  payload: Buffer;
  qos: number;
  properties: string | null;
}

export interface MessageRow {
  id: number;
  topic_name: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
}

export interface UserRow {
  username: string;
  password_hash: string;
}

export interface AclRuleRow {
  id: string;
  subject: AclRule['subject'];
  username: string | null;
  topic_filter: string;
  action: AclRule['action'];
  permission: AclRule['permission'];
}

export function toRetainedRecord(row: RetainedRow): RetainedRecord {
  return {
    topicName: row.topic_name,
    payload: row.payload,
    qos: row.qos as RetainedRecord['qos'],
    properties: propertiesFromJson(row.properties),
  };
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    topicName: row.topic_name,
    payload: row.payload,
    qos: row.qos as StoredMessage['qos'],
    retain: row.retain !== 0,
    properties: propertiesFromJson(row.properties),
  };
}

export function toUserRecord(row: UserRow): UserRecord {
  return { username: row.username, passwordHash: row.password_hash };
}

export function toAclRule(row: AclRuleRow): AclRule {
  return {
    id: row.id,
    subject: row.subject,
    username: row.username ?? undefined,
    topicFilter: row.topic_filter,
    action: row.action,
    permission: row.permission,
  };
}
