import type { AuthenticateRequest, BrokerHooks, ClientInfo, EnhancedAuthMethod } from '@mqtt-adapt/router';
import { BRIDGE_CLIENT_ID_PREFIX, BRIDGE_REMOTE_ADDRESS_PREFIX } from './bridge-config.js';

/** 5.0 reason code "Client Identifier not valid" (3.x: identifier rejected). */
const CLIENT_ID_NOT_VALID = 0x85;

function isBridge(client: { readonly remoteAddress: string }): boolean {
  return client.remoteAddress.startsWith(BRIDGE_REMOTE_ADDRESS_PREFIX);
}

/**
 * The hooks with the bridges' in-process sessions let through (they are the broker itself: no
 * password, every topic), and their client ids reserved: a network client naming one is refused
 * with 0x85, so nobody can take over a bridge's session and its queued messages. A socket's
 * remote address (`host:port`) never starts with `in-process:`. `beforePublishAck` is added for
 * `after-confirm` rules. Used only when bridges are configured.
 */
export function withBridgeAccess(
  hooks: BrokerHooks | undefined,
  beforePublishAck: BrokerHooks['beforePublishAck'],
): BrokerHooks {
  const h = hooks ?? {};
  const reserved = (clientId: string) => clientId.startsWith(BRIDGE_CLIENT_ID_PREFIX);
  const authenticate = (request: AuthenticateRequest) => {
    if (isBridge(request)) return reserved(request.clientId);
    if (reserved(request.clientId)) return CLIENT_ID_NOT_VALID;
    return h.authenticate === undefined ? true : h.authenticate(request);
  };
  const authorizePublish = h.authorizePublish;
  const authorizeSubscribe = h.authorizeSubscribe;
  const authorizeRead = h.authorizeRead;
  return {
    ...h,
    authenticate,
    ...(h.authMethods === undefined ? {} : { authMethods: reserveIn(h.authMethods, reserved) }),
    ...(authorizePublish === undefined
      ? {}
      : {
          authorizePublish: (client: ClientInfo, topicName, qos, retain) =>
            isBridge(client) || authorizePublish(client, topicName, qos, retain),
        }),
    ...(authorizeSubscribe === undefined
      ? {}
      : {
          authorizeSubscribe: (client: ClientInfo, topicFilter, qos) =>
            isBridge(client) || authorizeSubscribe(client, topicFilter, qos),
        }),
    ...(authorizeRead === undefined
      ? {}
      : {
          authorizeRead: (client: ClientInfo, topicName) =>
            isBridge(client) || authorizeRead(client, topicName),
        }),
    ...(beforePublishAck === undefined ? {} : { beforePublishAck }),
  };
}

/** Enhanced authentication (SCRAM) bypasses `authenticate`: reserve the ids there too. */
function reserveIn(
  methods: Readonly<Record<string, EnhancedAuthMethod>>,
  reserved: (clientId: string) => boolean,
): Record<string, EnhancedAuthMethod> {
  const out: Record<string, EnhancedAuthMethod> = {};
  for (const [name, method] of Object.entries(methods)) {
    out[name] = {
      start: (request) =>
        reserved(request.clientId)
          ? { result: 'failure', reasonCode: CLIENT_ID_NOT_VALID, reason: 'client id reserved for bridges' }
          : method.start(request),
      step: (state, data, request) => method.step(state, data, request),
    };
  }
  return out;
}
