import { loadConfig } from '../config';
import { clientNetwork } from './rateLimits';

describe('clientNetwork, what a per-IP limit counts', () => {
  it('counts an IPv4 client by its address, also when written IPv4-mapped', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts an IPv6 client by its /64, however the address is written', () => {
    const network = '2001:db8:85a3:42::/64';
    expect(clientNetwork('2001:db8:85a3:42::1')).toBe(network);
    expect(clientNetwork('2001:0db8:85a3:0042:ffff:ffff:ffff:ffff')).toBe(network);
    expect(clientNetwork('2001:db8:85a3:42:1::9')).toBe(network);
    expect(clientNetwork('2001:DB8:85A3:42::1%eth0')).toBe(network);
    expect(clientNetwork('2001:db8:85a3:43::1')).not.toBe(network);
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('puts requests without an address together', () => {
    expect(clientNetwork(null)).toBe('unknown');
  });
});

describe('the settings the limits read', () => {
  it('reads points/seconds and points/seconds/blockSeconds, and refuses a limit that would let everything through', () => {
    expect(loadConfig({ HEARTH_LIMIT_LOGIN_FAILURES_PER_IP: '50/600' }).rateLimits.loginFailuresPerIp).toEqual({
      points: 50,
      windowSeconds: 600,
      blockSeconds: 0,
    });
    expect(
      loadConfig({ HEARTH_LIMIT_LOGIN_CONSECUTIVE_FAILURES: '5/3600/300' }).rateLimits.loginConsecutiveFailures,
    ).toEqual({ points: 5, windowSeconds: 3600, blockSeconds: 300 });
    for (const bad of ['0/600', 'off', '50', '50/0', '-1/60', '50/9999999']) {
      expect(() => loadConfig({ HEARTH_LIMIT_REFRESHES_PER_IP: bad })).toThrow(
        /HEARTH_LIMIT_REFRESHES_PER_IP must be points\/seconds/,
      );
    }
  });

  it('reads which proxies to believe about the client address: loopback unless HEARTH_TRUST_PROXY says otherwise', () => {
    expect(loadConfig({}).trustProxy).toEqual(['loopback']);
    expect(loadConfig({ HEARTH_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ HEARTH_TRUST_PROXY: '10.0.0.0/8, loopback, fd00::/8' }).trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
      'fd00::/8',
    ]);
    for (const bad of ['everyone', '', '10.0.0.0/8;rm', '11'])
      expect(() => loadConfig({ HEARTH_TRUST_PROXY: bad })).toThrow(/HEARTH_TRUST_PROXY must be/);
  });
});
