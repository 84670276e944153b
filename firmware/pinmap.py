# Pin map of the 4-channel actuator board (Raspberry Pi Pico, RP2040): the one place it lives.
# wiring/ draws these pins and a test checks the harness agrees with this file.
#
# Each channel is one bay: a relay for the camera's PoE power and a solenoid MOSFET for its
# reset pin. The solenoid pins sit on four different PWM slices (GP16/18/20/22 -> slices 0-3)
# so each channel's hold duty is set without touching another's.

# channel: (relay GPIO, solenoid GPIO)
CHANNELS = {
    1: (2, 16),
    2: (3, 18),
    3: (4, 20),
    4: (5, 22),
}

# The relay driver on the board is a logic-level transistor stage: high = coil energised
# = camera power cut (relay contacts wired NC).
RELAY_ACTIVE_HIGH = True

# On-board LED: lit while any channel is active.
LED_PIN = 25
