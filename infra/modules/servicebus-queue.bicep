// One more queue in the app's Service Bus namespace (servicebus.bicep declares the namespace and
// the event queue): the sync's job queue (shared/events/queues.ts SYNC_JOBS_QUEUE). Same
// properties as the event queue - duplicate detection can only be switched on at creation.

@description('The namespace created by servicebus.bicep.')
param namespaceName string

@description('Queue name.')
param queueName string

@description('Principal id of the app\'s managed identity.')
param principalId string

@description('How long Service Bus remembers message ids (ISO 8601).')
param duplicateDetectionHistoryTimeWindow string = 'PT1H'

@description('Deliveries before Service Bus dead-letters a message (the app re-enqueues transient failures itself).')
@minValue(1)
param maxDeliveryCount int = 10

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionHistoryTimeWindow
    deadLetteringOnMessageExpiration: true
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: 'P14D'
    // A sync chunk holds its message for up to SYNC_CHUNK_SECONDS (default 120 s); the lock is renewed by the host.
    lockDuration: 'PT5M'
    requiresSession: false
    enablePartitioning: false
  }
}

// Azure Service Bus Data Owner on this queue (see servicebus.bicep for why Owner, not Sender + Receiver).
var serviceBusDataOwnerRoleId = '090c5cfd-751d-490a-894a-3ce6f1109419'

resource queueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, serviceBusDataOwnerRoleId)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwnerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
