import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import type { WorkflowDefinition } from '../../packs/types';
import type { PlacementStatus } from './models';

/**
 * The pack's placement workflow, read as data. Nothing here names a UK or US state: the roles of
 * the states are found from the shape of the graph.
 *  - the running state: the one non-terminal state whose every step leads to a terminal state
 *    (UK `started`, USA `active`);
 *  - the start steps lead into it, the end step leads out of it to the ended state;
 *  - a state with a step into the running state is ready to start (normalised `approved`); other
 *    states before it are `proposed`; the other terminal states are `cancelled`.
 */
export interface PlacementWorkflow {
  definition: WorkflowDefinition;
  runningState: string;
  endedState: string;
  endTransition: WorkflowDefinition['transitions'][number];
}

export function analyseWorkflow(definition: WorkflowDefinition): PlacementWorkflow {
  const terminal = new Set(definition.states.filter((s) => s.terminal).map((s) => s.key));
  const running = definition.states.filter((s) => {
    if (terminal.has(s.key)) return false;
    const out = definition.transitions.filter((t) => t.from.includes(s.key));
    return out.length > 0 && out.every((t) => terminal.has(t.to));
  });
  if (running.length !== 1)
    throw new Problem(
      'unprocessable',
      `The placement workflow "${definition.key}" has no single running state (found ${running.length}); the tenant's configuration needs correcting`,
    );
  const runningState = running[0]!.key;
  const ends = definition.transitions.filter((t) => t.from.includes(runningState));
  if (ends.length !== 1)
    throw new Problem(
      'unprocessable',
      `The placement workflow "${definition.key}" must have one step out of "${runningState}"`,
    );
  return { definition, runningState, endedState: ends[0]!.to, endTransition: ends[0]! };
}

export function statusOfState(workflow: PlacementWorkflow, state: string): PlacementStatus {
  const { definition, runningState, endedState } = workflow;
  if (state === runningState) return 'active';
  if (state === endedState) return 'ended';
  if (definition.states.find((s) => s.key === state)?.terminal) return 'cancelled';
  return definition.transitions.some((t) => t.from.includes(state) && t.to === runningState) ? 'approved' : 'proposed';
}

/**
 * The tenant's placement workflow today: the pack's, with the tenant's overlays applied
 * (the configuration module's effective configuration; its overlays are read as it stores them).
 */
export async function tenantPlacementWorkflow(
  ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>,
  key?: string | null,
): Promise<PlacementWorkflow | null> {
  const { effective: config } = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  if (!config) return null;
  const item = config.workflows.find((w) => (key ? w.key === key : w.value.subject === 'placement'));
  return item ? analyseWorkflow(item.value) : null;
}

/** The form a start step names as its evidence: the pack's placement agreement. */
export function agreementFormKeys(workflow: PlacementWorkflow | null): string[] {
  if (!workflow) return [];
  return [
    ...new Set(
      workflow.definition.transitions
        .filter((t) => t.to === workflow.runningState)
        .flatMap((t) => (t.evidence ?? []).filter((e) => e.kind === 'form').map((e) => e.key)),
    ),
  ];
}
