// The README's first example, kept here so it compiles and does what the README says.
import { expect, it } from 'vitest';
import { DeliveryMerger, SubscriptionTrie, topicFilterError } from '../src/index.js';

it('runs the README example', () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  const trie = new SubscriptionTrie<string>(); // subscribers are client ids here
  trie.add('site-1/+/temperature', 'dashboard', { qos: 0 });
  trie.add('site-1/#', 'dashboard', { qos: 1 });
  trie.add('$share/workers/site-1/#', 'worker-a', { qos: 1 });
  trie.add('$share/workers/site-1/#', 'worker-b', { qos: 1 });
  log(String(topicFilterError('site-1/#/x')?.code)); // TOPIC_INVALID_WILDCARD

  const merger = new DeliveryMerger<string>();
  const n = merger.merge(trie.match('site-1/dev-7/temperature'));
  for (const d of merger.deliveries.slice(0, n)) log(`${d.subscriber} qos ${d.qos}`);
  // dashboard qos 1, worker-a qos 1 (the next match goes to worker-b)

  expect(lines).toEqual(['TOPIC_INVALID_WILDCARD', 'dashboard qos 1', 'worker-a qos 1']);
  expect(trie.match('site-1/x').find((s) => s.shareGroup === 'workers')?.subscriber).toBe('worker-b');
});
