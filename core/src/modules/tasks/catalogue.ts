/**
 * The case-event catalogue on its own (no imports), so the pack loader can check cycles against it
 * without loading the tasks module.
 */
export type CaseEventSubject = 'child' | 'placement' | 'carer_household';

/**
 * The events the core records, in its own words. Packs' cycles name these as their trigger,
 * completion and stop events (the pack loader refuses a name that is not here), so a UK review
 * cycle and a US one listen for the same `child.entered_care`.
 */
export const CASE_EVENTS = {
  'child.entered_care': {
    subject: 'child',
    description: 'The child became looked after (entered foster care): the first day of a care episode',
  },
  'child.left_care': { subject: 'child', description: 'The child ceased to be looked after (left care)' },
  'child.review_held': {
    subject: 'child',
    description: "A review of the child's case (LAC review, periodic review) was held",
  },
  'child.initial_health_assessment_held': { subject: 'child', description: 'The initial health assessment was done' },
  'child.review_health_assessment_held': { subject: 'child', description: 'A review health assessment was done' },
  'child.pep_reviewed': { subject: 'child', description: 'The personal education plan was reviewed' },
  'child.permanency_hearing_held': { subject: 'child', description: 'A permanency hearing was held' },
  'placement.started': { subject: 'placement', description: 'The child moved in' },
  'placement.ended': { subject: 'placement', description: 'The placement ended (the child moved out)' },
  'placement.visit_held': {
    subject: 'placement',
    description: "The child's worker visited the child in the placement",
  },
  'carer.approved': { subject: 'carer_household', description: 'The household was approved' },
  'carer.review_held': {
    subject: 'carer_household',
    description: 'The carer review (annual review or update) was held',
  },
  'carer.unannounced_visit_held': {
    subject: 'carer_household',
    description: 'An unannounced visit to the home was made',
  },
  'carer.approval_ended': {
    subject: 'carer_household',
    description: 'The approval ended (resignation, termination or closure)',
  },
} as const satisfies Record<string, { subject: CaseEventSubject; description: string }>;

export type CaseEventName = keyof typeof CASE_EVENTS;

export function isCaseEventName(value: string): value is CaseEventName {
  return Object.prototype.hasOwnProperty.call(CASE_EVENTS, value);
}
