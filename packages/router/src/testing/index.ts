export { FakeClock } from './fake-clock.js';
export { FakeTransport } from './fake-transport.js';
