import crypto from 'node:crypto';
import { adminUrl, createTemplate } from './databases';

/** Migrates one template database per run; each test file copies it, which is much faster than migrating. */
export default async function globalSetup(): Promise<void> {
  if (!adminUrl()) return;
  const name = `hearth_test_${Date.now().toString(36)}_${crypto.randomBytes(3).toString('hex')}`;
  process.env.HEARTH_TEST_TEMPLATE = name;
  await createTemplate(name);
}
