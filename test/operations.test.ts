import { testContract } from './support/contractClient';
import { fixtures, requestFor } from './support/fixtures';
import { startWorld, type World } from './support/harness';

/**
 * Every operation in the contract has a fixture, and each fixture's request succeeds with the
 * status it declares and a body that matches the contract. The isolation, audit and bad-input
 * suites stand on these fixtures, so this suite is what keeps them honest.
 */
const routed = testContract().operations.filter((o) => o.tenancy !== 'system');

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

it('has a fixture for every routed operation, and none for operations the contract lacks', () => {
  expect(routed.map((o) => o.operationId).filter((id) => !fixtures[id])).toEqual([]);
  expect(Object.keys(fixtures).filter((id) => !routed.some((o) => o.operationId === id))).toEqual([]);
});

describe.each(routed.map((o) => [o.operationId]))('%s', (operationId) => {
  it('succeeds as its fixture says, inside the contract', async () => {
    const request = await requestFor(operationId, { world, tenant: world.a });
    const response = await world.call(operationId, request);
    expect({ status: response.status, body: response.status === request.expect ? 'ok' : response.text }).toEqual({
      status: request.expect,
      body: 'ok',
    });
  });
});
