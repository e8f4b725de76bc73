/**
 * The typed client a shop's back end uses (`import { VitrineClient } from 'vitrine/client'`): every
 * call's fields and result typed as the server's.
 */
export { CallError } from './errors.js';
export { VitrineHttpClient } from './http.js';
export type { FilterFields, Requests } from './requests.js';
export { type Answer, type ClientOptions, VitrineClient } from './ws.js';
export type * from '../protocol/replies.js';
export type { EventType, HistoryEntry, ItemDescription, PromotionEventType } from '../protocol/calls.js';
