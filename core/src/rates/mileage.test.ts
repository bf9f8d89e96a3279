import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config';
import type { MileageTable } from '../packs/types';
import { mileagePayment, thresholdPeriodStart } from './mileage';

// The UK pack's HMRC approved mileage rates: 45p a mile for the first 10,000 business miles in the
// tax year, 25p after.
const hmrc = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'packs', 'uk', 'rates', 'hmrc-mileage.json'), 'utf8'),
) as MileageTable;

describe('mileage by the pack bands', () => {
  it('pays 45p a mile below the threshold', () => {
    expect(mileagePayment(hmrc, '2025-07-01', 120, 0).amount).toBe(5400);
  });

  it('splits a journey that crosses 10,000 miles in the tax year between 45p and 25p', () => {
    const payment = mileagePayment(hmrc, '2026-02-10', 300, 9900);
    expect(payment.bands).toEqual([
      { miles: 100, amountPerMile: 45, amount: 4500 },
      { miles: 200, amountPerMile: 25, amount: 5000 },
    ]);
    expect(payment.amount).toBe(9500);
    expect(payment.thresholdPeriodStart).toBe('2025-04-06');
  });

  it('pays 25p once the carer is past the threshold, and counts the tax year from 6 April', () => {
    expect(mileagePayment(hmrc, '2026-04-05', 10, 12000).amount).toBe(250);
    expect(thresholdPeriodStart('uk_tax_year', '2026-04-05')).toBe('2025-04-06');
    expect(thresholdPeriodStart('uk_tax_year', '2026-04-06')).toBe('2026-04-06');
  });

  it('rounds the whole journey once, half up, for fractions of a mile and of a cent', () => {
    const irs: MileageTable = {
      kind: 'mileage',
      key: 'irs',
      name: 'IRS',
      thresholdResets: 'never',
      values: [{ effectiveFrom: '2025-01-01', source: 'IRS Notice 2025-5', bands: [{ amountPerMile: 70 }] }],
    };
    expect(mileagePayment(irs, '2025-03-01', 12.5, 0).amount).toBe(875);
    const half: MileageTable = {
      ...irs,
      values: [{ effectiveFrom: '2023-01-01', source: 'IRS 2023', bands: [{ amountPerMile: 65.5 }] }],
    };
    expect(mileagePayment(half, '2023-05-01', 3, 0).amount).toBe(197); // 196.5 → 197
  });
});
