import { isValidTopicFilter, isValidTopicName, topicFilterError, topicNameError } from '@mqtt-adapt/topic';
import type { Connection } from '../connection.js';

/** Enough of a topic for a log line: a topic may be 65535 bytes long. */
function preview(topic: string): string {
  return topic.length > 100 ? `${topic.slice(0, 100)}...` : topic;
}

/**
 * Why `topicName` (of a PUBLISH or a will) may not be published, or undefined when it may: not
 * a valid topic name, more than `maxTopicLevels` levels or more than `maxTopicLength` bytes (the
 * last two counted and logged as limit hits). One validation and, while `maxTopicLength` is the
 * protocol's, no other branch on the way to `undefined`.
 */
export function topicNameRefusal(
  connection: Connection,
  topicName: string,
  clientId: string | undefined,
): string | undefined {
  const core = connection.core;
  const maxLevels = core.options.maxTopicLevels;
  if (!isValidTopicName(topicName, maxLevels)) {
    const error = topicNameError(topicName, maxLevels);
    if (error?.code !== 'TOPIC_TOO_DEEP') return `invalid topic name "${preview(topicName)}" [MQTT-3.3.2-2]`;
    core.limits.hit('topicLevels', connection, clientId, {
      levels: error.actual,
      topicName: preview(topicName),
    });
    return `topic name of ${error.actual} levels exceeds maxTopicLevels ${maxLevels}`;
  }
  const limits = core.limits;
  if (limits.isTopicLengthLimited && limits.isTopicTooLong(topicName)) {
    const bytes = Buffer.byteLength(topicName, 'utf8');
    limits.hit('topicLength', connection, clientId, { bytes, topicName: preview(topicName) });
    return `topic name of ${bytes} bytes exceeds maxTopicLength ${core.options.maxTopicLength}`;
  }
  return undefined;
}

/**
 * Whether a SUBSCRIBE may have `topicFilter`: a valid filter within `maxTopicLevels` (counted
 * after any `$share/{group}/`) and `maxTopicLength` bytes (the whole filter). Hits of the two
 * limits are counted and logged.
 */
export function isTopicFilterAllowed(connection: Connection, topicFilter: string): boolean {
  const core = connection.core;
  const maxLevels = core.options.maxTopicLevels;
  if (!isValidTopicFilter(topicFilter, maxLevels)) {
    const error = topicFilterError(topicFilter, maxLevels);
    if (error?.code === 'TOPIC_TOO_DEEP') {
      core.limits.hit('topicLevels', connection, connection.clientId, {
        levels: error.actual,
        topicFilter: preview(topicFilter),
      });
    }
    return false;
  }
  const limits = core.limits;
  if (limits.isTopicLengthLimited && limits.isTopicTooLong(topicFilter)) {
    limits.hit('topicLength', connection, connection.clientId, {
      bytes: Buffer.byteLength(topicFilter, 'utf8'),
      topicFilter: preview(topicFilter),
    });
    return false;
  }
  return true;
}
