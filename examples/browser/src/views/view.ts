import type { Content } from '../dom';
import type { Session } from '../session';

/** What a screen shows: its title (the page's, and its heading's) and its content (nulls are left out). */
export interface Rendered {
  title: string;
  content: Content[];
}

/** A screen: loads what it shows as the logged-in user, then builds it. Throws what the API answered. */
export type View = (session: Session, id: string) => Promise<Rendered>;
