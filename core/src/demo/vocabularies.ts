/**
 * What a synthetic service says differently from place to place: people's names, the codes its
 * pack's lists hold (ethnicity, legal status, placement type, checks, reasons a care episode starts
 * and ends), its rate regions and carer levels, and how its addresses look. The generator draws from
 * one of these; lists that repeat a value weight it. Every code is one of its pack's (the demo test
 * checks that against the tenant's lists), so what is generated is what the API would accept.
 */

export interface CheckRule {
  type: string;
  /** How long a completed check stays valid; null: it does not expire. */
  validYears: number | null;
  applicantsOnly: boolean;
}

export interface ServiceVocabulary {
  name: string;
  givenNames: readonly string[];
  familyNames: readonly string[];
  ethnicities: readonly string[];
  legalStatuses: readonly string[];
  /** Reasons a care episode starts and ends, taken in turn child by child. */
  episodeStartReasons: readonly string[];
  episodeEndReasons: readonly string[];
  placementTypes: readonly string[];
  /** Rate regions by cumulative share (a household's draw below `upTo` falls in `region`), or null where rates have no region. */
  regions: ReadonlyArray<{ region: string; upTo: number }> | null;
  /** Carer levels (skills levels) where the pack has them, else null. */
  carerLevels: readonly string[] | null;
  checks: readonly CheckRule[];
  skills: readonly string[];
  languages: readonly string[];
  postcodeAreas: readonly string[];
  /** A postcode or ZIP code from an area and two draws. */
  postcode(area: string, n: number, m: number, letters: string): string;
  /** Where households live: a centre and how far either side of it (degrees). */
  centre: { lat: number; lon: number; latSpread: number; lonSpread: number };
  /** The approval workflow's step that ends an approval when a household stops fostering. */
  endOfApproval: string;
  /** The records the place's cycles ask for beyond reviews and visits. */
  records: { healthAssessments: boolean; pepReviews: boolean; unannouncedVisits: boolean };
  /**
   * Cycles whose completing event no record of the API makes yet: a demo marks their long-overdue
   * tasks done by hand on the day they were due, as the worker would, rather than show them missed.
   */
  cyclesDoneByHand: readonly string[];
}

/** An English local authority's service on the `uk` pack: SSDA903 codes, NMA regions, DBS checks. */
export const ENGLAND: ServiceVocabulary = {
  name: 'England',
  givenNames: [
    'Amelia',
    'Oliver',
    'Isla',
    'George',
    'Ava',
    'Noah',
    'Mia',
    'Leo',
    'Ivy',
    'Arthur',
    'Freya',
    'Muhammad',
    'Lily',
    'Harry',
    'Sophia',
    'Oscar',
    'Grace',
    'Jack',
    'Aisha',
    'Theo',
    'Zara',
    'Kai',
    'Maya',
    'Reuben',
    'Nia',
    'Tyler',
    'Chloe',
    'Kacper',
    'Amara',
    'Dylan',
    'Eliza',
    'Yusuf',
    'Ruby',
    'Finley',
    'Hana',
    'Mason',
    'Esme',
    'Ibrahim',
    'Poppy',
    'Jayden',
  ],
  familyNames: [
    'Smith',
    'Jones',
    'Taylor',
    'Brown',
    'Williams',
    'Wilson',
    'Johnson',
    'Davies',
    'Patel',
    'Robinson',
    'Wright',
    'Thompson',
    'Evans',
    'Walker',
    'White',
    'Roberts',
    'Green',
    'Hall',
    'Khan',
    'Lewis',
    'Harris',
    'Clarke',
    'Jackson',
    'Wood',
    'Turner',
    'Martin',
    'Cooper',
    'Hill',
    'Ward',
    'Hughes',
    'Moore',
    'Begum',
    'Kowalski',
    'Okafor',
    'Nguyen',
    "O'Neill",
    'Ali',
    'Mensah',
    'Novak',
    'Fernandes',
    'Achterberg',
    'Baptiste',
    'Castellano',
    'Duarte',
    'Eriksen',
    'Fitzgerald',
    'Gallagher',
    'Hussain',
    'Iqbal',
    'Jablonski',
  ],
  ethnicities: ['WBRI', 'WBRI', 'WBRI', 'WBRI', 'WOTH', 'MWBC', 'MOTH', 'APKN', 'ABAN', 'BAFR', 'BCRB', 'OOTH', 'WIRI'],
  legalStatuses: ['C2', 'C2', 'C2', 'C1', 'V2', 'V2', 'E1', 'L2'],
  episodeStartReasons: ['S'],
  episodeEndReasons: ['E11'],
  placementTypes: ['U1', 'U3', 'U3', 'U4', 'U5', 'U6'],
  regions: [
    { region: 'london', upTo: 0.25 },
    { region: 'south_east', upTo: 0.55 },
    { region: 'rest_of_england', upTo: 1 },
  ],
  carerLevels: ['level_1', 'level_1', 'level_2', 'level_2', 'level_3'],
  checks: [
    { type: 'dbs_enhanced', validYears: 3, applicantsOnly: false },
    { type: 'local_authority_check', validYears: null, applicantsOnly: false },
    { type: 'medical', validYears: 2, applicantsOnly: true },
    { type: 'personal_reference', validYears: null, applicantsOnly: true },
    { type: 'home_safety', validYears: 1, applicantsOnly: true },
  ],
  skills: [
    'disability',
    'sibling_groups',
    'teenagers',
    'parent_and_child',
    'therapeutic',
    'unaccompanied_asylum_seeking',
    'babies',
    'remand',
  ],
  languages: ['en', 'en', 'en', 'en', 'pl', 'ur', 'bn', 'pa', 'ar', 'so', 'ro'],
  postcodeAreas: ['N', 'E', 'SE', 'SW', 'W', 'RH', 'GU', 'ME', 'B', 'LS'],
  postcode: (area, n, m, letters) => `${area}${n} ${m}${letters}`,
  centre: { lat: 51.5, lon: -0.12, latSpread: 1.2, lonSpread: 1.6 },
  endOfApproval: 'resign',
  records: { healthAssessments: true, pepReviews: true, unannouncedVisits: true },
  cyclesDoneByHand: [],
};

/**
 * A California county's or agency's resource families on the `usa/ca` pack: AFCARS placement
 * settings and removal and discharge reasons, the federal and state background checks, no rate
 * regions or carer levels (the basic rate is one statewide amount). Legal status has no list in the
 * USA packs; most children in care there are dependents of the juvenile court (WIC 300), a few are
 * placed by a voluntary agreement.
 */
export const CALIFORNIA: ServiceVocabulary = {
  name: 'California',
  givenNames: [
    'Sofia',
    'Mateo',
    'Isabella',
    'Liam',
    'Camila',
    'Noah',
    'Emma',
    'Santiago',
    'Mia',
    'Ethan',
    'Valeria',
    'Daniel',
    'Olivia',
    'Sebastian',
    'Ava',
    'Angel',
    'Luna',
    'Elijah',
    'Aaliyah',
    'Jayden',
    'Ximena',
    'Diego',
    'Harper',
    'Jacob',
    'Leilani',
    'Adrian',
    'Nevaeh',
    'Gabriel',
    'Chloe',
    'Julian',
    'Amara',
    'Kai',
    'Zoe',
    'Isaiah',
    'Maya',
    'Luis',
    'Emily',
    'Andrew',
    'Abigail',
    'Josiah',
  ],
  familyNames: [
    'Garcia',
    'Hernandez',
    'Lopez',
    'Martinez',
    'Gonzalez',
    'Rodriguez',
    'Perez',
    'Sanchez',
    'Ramirez',
    'Torres',
    'Nguyen',
    'Tran',
    'Kim',
    'Lee',
    'Smith',
    'Johnson',
    'Williams',
    'Brown',
    'Jones',
    'Davis',
    'Miller',
    'Wilson',
    'Anderson',
    'Thomas',
    'Jackson',
    'White',
    'Harris',
    'Clark',
    'Lewis',
    'Robinson',
    'Walker',
    'Young',
    'Flores',
    'Rivera',
    'Gomez',
    'Diaz',
    'Reyes',
    'Cruz',
    'Morales',
    'Ortiz',
    'Gutierrez',
    'Chavez',
    'Ramos',
    'Castillo',
    'Vasquez',
    'Patel',
    'Singh',
    'Wong',
    'Chen',
    'Washington',
  ],
  ethnicities: [
    'hispanic',
    'hispanic',
    'hispanic',
    'hispanic',
    'not_hispanic',
    'not_hispanic',
    'not_hispanic',
    'unknown',
  ],
  legalStatuses: [
    'wic_300_dependent',
    'wic_300_dependent',
    'wic_300_dependent',
    'wic_300_dependent',
    'voluntary_placement',
  ],
  episodeStartReasons: [
    'neglect',
    'neglect',
    'parent_drug_abuse',
    'caretaker_inability_to_cope',
    'physical_abuse',
    'neglect',
    'inadequate_housing',
  ],
  episodeEndReasons: ['reunification', 'reunification', 'adoption', 'guardianship', 'living_with_other_relatives'],
  placementTypes: [
    'foster_family_non_relative',
    'foster_family_non_relative',
    'foster_family_non_relative',
    'foster_family_relative',
    'foster_family_relative',
    'pre_adoptive_home',
  ],
  regions: null,
  carerLevels: null,
  checks: [
    { type: 'fbi_fingerprint', validYears: null, applicantsOnly: false },
    { type: 'state_criminal_history', validYears: null, applicantsOnly: false },
    { type: 'child_abuse_neglect_registry', validYears: null, applicantsOnly: false },
    { type: 'sex_offender_registry', validYears: null, applicantsOnly: false },
    { type: 'medical', validYears: 2, applicantsOnly: true },
    { type: 'references', validYears: null, applicantsOnly: true },
    { type: 'home_inspection', validYears: 1, applicantsOnly: true },
    { type: 'training_hours', validYears: 1, applicantsOnly: true },
  ],
  skills: [
    'disability',
    'sibling_groups',
    'teenagers',
    'parent_and_child',
    'therapeutic',
    'babies',
    'medically_fragile',
    'lgbtq_affirming',
  ],
  languages: ['en', 'en', 'en', 'es', 'es', 'es', 'vi', 'zh', 'tl', 'ko', 'hy'],
  postcodeAreas: ['900', '902', '903', '905', '906', '907', '908', '910', '911', '913', '915', '917', '918'],
  postcode: (area, n, m) => `${area}${String((n * 10 + m) % 100).padStart(2, '0')}`,
  centre: { lat: 34.05, lon: -118.25, latSpread: 0.6, lonSpread: 0.8 },
  endOfApproval: 'close',
  // The USA pack's cycles ask for none of these.
  records: { healthAssessments: false, pepReviews: false, unannouncedVisits: false },
  // The court's permanency hearings: nothing in the API records one yet (child.permanency_hearing_held has no source).
  cyclesDoneByHand: ['permanency-hearing'],
};
