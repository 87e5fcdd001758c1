import { describe, expect, it } from 'vitest';
import { ImportLineError, parseMosquittoAcl, parseMosquittoPasswd } from '../../src/auth/mosquitto-files.js';

describe('mosquitto_passwd files', () => {
  it('keeps each hash as it is and skips comments', () => {
    const text = '# users\nalice:$7$101$AAAA$BBBB\n\nbob:$6$c2FsdA==$aGFzaA==\n';
    expect(parseMosquittoPasswd(text)).toEqual([
      { username: 'alice', passwordHash: '$7$101$AAAA$BBBB' },
      { username: 'bob', passwordHash: '$6$c2FsdA==$aGFzaA==' },
    ]);
  });

  it('refuses plain-text passwords and broken lines, naming the line', () => {
    expect(() => parseMosquittoPasswd('alice:$7$1$A$B\ncarol:secret\n')).toThrow(
      /line 2: .*mosquitto_passwd -U/,
    );
    expect(() => parseMosquittoPasswd('nocolon\n')).toThrow(ImportLineError);
  });
});

describe('mosquitto acl files', () => {
  it('maps topic/user/pattern lines to rules', () => {
    const text = [
      '# anonymous',
      'topic read public/#',
      '',
      'user alice',
      'topic readwrite alice/#',
      'topic deny alice/secret',
      'topic sensors/+/temp',
      'user bob smith',
      'topic write bob/out',
      'pattern read devices/%c/cmd',
      'pattern write devices/%u/data',
    ].join('\n');
    expect(parseMosquittoAcl(text)).toEqual([
      {
        subject: 'anonymous',
        username: undefined,
        topicFilter: 'public/#',
        action: 'subscribe',
        permission: 'allow',
      },
      { subject: 'user', username: 'alice', topicFilter: 'alice/#', action: 'all', permission: 'allow' },
      { subject: 'user', username: 'alice', topicFilter: 'alice/secret', action: 'all', permission: 'deny' },
      {
        subject: 'user',
        username: 'alice',
        topicFilter: 'sensors/+/temp',
        action: 'all',
        permission: 'allow',
      },
      {
        subject: 'user',
        username: 'bob smith',
        topicFilter: 'bob/out',
        action: 'publish',
        permission: 'allow',
      },
      {
        subject: 'all',
        username: undefined,
        topicFilter: 'devices/%c/cmd',
        action: 'subscribe',
        permission: 'allow',
      },
      {
        subject: 'all',
        username: undefined,
        topicFilter: 'devices/%u/data',
        action: 'publish',
        permission: 'allow',
      },
    ]);
  });

  it('a topic named like an access word is a topic when nothing follows it', () => {
    expect(parseMosquittoAcl('topic read')[0]).toMatchObject({ topicFilter: 'read', action: 'all' });
  });

  it('refuses unknown keywords and invalid filters, naming the line', () => {
    expect(() => parseMosquittoAcl('topic read a\nallow x\n')).toThrow(/line 2: unknown keyword "allow"/);
    expect(() => parseMosquittoAcl('topic a/#/b')).toThrow(/line 1: "a\/#\/b" is not a valid topic filter/);
  });
});
