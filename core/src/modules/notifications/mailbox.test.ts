import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { mailboxChannel } from './mailbox';
import type { OutgoingMessage } from './channels';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mailbox-test-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const message: OutgoingMessage = {
  id: '01a25200-0000-7000-8000-000000000001',
  idempotencyKey: '01a25200-0000-7000-8000-000000000001',
  medium: 'email',
  to: 'Sam.Taylor@Example.test',
  from: 'Hearth <no-reply@hearth.test>',
  subject: 'Reset your password',
  text: 'Open https://app.example/reset-password#token=x',
  html: null,
  messageId: '<01a25200-0000-7000-8000-000000000001@hearth>',
};

describe("core's mailbox channel (the embedded default for email)", () => {
  it('writes one .eml per message under its recipient, which a mail reader parses, and a retry replaces it', async () => {
    const mailbox = mailboxChannel.open({ target: root, credential: null });
    const first = await mailbox.send(message);
    const again = await mailbox.send(message);
    expect(first).toEqual({ providerMessageId: `sam.taylor@example.test/${message.id}.eml`, outcome: 'delivered' });
    expect(again).toEqual(first);
    expect(fs.readdirSync(path.join(root, 'sam.taylor@example.test'))).toEqual([`${message.id}.eml`]);
    const parsed = await simpleParser(fs.readFileSync(path.join(root, first.providerMessageId!)));
    expect(parsed.subject).toBe('Reset your password');
    expect(parsed.messageId).toBe(message.messageId);
    expect(parsed.text?.trim()).toBe(message.text);
  });

  it('keeps an address that tries to climb out of the folder inside it', async () => {
    const mailbox = mailboxChannel.open({ target: root, credential: null });
    const sent = await mailbox.send({ ...message, to: '../../etc/passwd' });
    expect(path.resolve(root, sent.providerMessageId!).startsWith(root + path.sep)).toBe(true);
  });
});
