/** Types of stack/params.cjs (CommonJS for the Serverless Framework, typed for the tests). */
export declare function validateParams(raw: Record<string, unknown>): string[];
export declare function list(value: unknown): string[];
export declare function s3Bundle(workerBundle: unknown): { bucket: string; key: string } | undefined;
export declare const FARM_MODES: readonly string[];
export declare const MARKET_STYLES: readonly string[];
export declare function deadLetterQueueName(queueName: unknown): string;
export declare const PARAM_NAMES: readonly string[];
export declare const LOG_LEVELS: readonly string[];
