// The endpoint a host tells callers that other agents reach it at (volume placements name it).

import { describe, expect, it } from 'vitest';
import { peerEndpoint } from '../../../agent/api/host-service.js';

describe('peerEndpoint', () => {
  it('is the listen address on the underlay address', () => {
    expect(peerEndpoint(['unix:///run/vxcloud/agent.sock', '192.0.2.11:7443'], '192.0.2.11')).toBe('192.0.2.11:7443');
    expect(peerEndpoint(['127.0.0.1:7000', '192.0.2.11:7443'], '192.0.2.11')).toBe('192.0.2.11:7443');
  });

  it('puts the underlay address into a wildcard listen address', () => {
    expect(peerEndpoint(['unix:///a.sock', '0.0.0.0:7443'], '192.0.2.12')).toBe('192.0.2.12:7443');
    expect(peerEndpoint(['[::]:7444'], '192.0.2.12')).toBe('192.0.2.12:7444');
  });

  it('falls back to the first TCP address, and is empty with unix sockets only', () => {
    expect(peerEndpoint(['unix:///a.sock', 'agent.example:7443'], '192.0.2.13')).toBe('agent.example:7443');
    expect(peerEndpoint(['unix:///a.sock'], '192.0.2.13')).toBe('');
  });
});
